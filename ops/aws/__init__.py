"""AWS beyond CloudFormation: the one reader of AWS errors, and SSM Run Command."""
