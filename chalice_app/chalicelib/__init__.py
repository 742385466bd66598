"""Everything the API's routes use: settings, credentials, the connection and the pet queries.

Chalice packages this folder with the Lambda function; ``app.py`` holds only the routes.
"""
