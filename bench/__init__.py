"""``python -m bench``: the pet API measured against its floor and its peer, in one run.

What is compared, and why:

* **Warm path.** Three contenders answer the same lookups, interleaved request by request so
  that noise from the shared 2-core machine lands on all of them alike: the raw pymysql query on
  an open connection (the floor: nothing can be faster than the database round trip), the Chalice
  handler called the way Lambda calls it (``app.app(event, context)`` with an API Gateway REST
  proxy event), and the same route as a Flask app behind the apig-wsgi Lambda adapter (the peer:
  the earlier answer to the challenge ran Flask in Lambda). ``chalice local`` is never measured:
  it is a development server, and its throughput says nothing about Lambda.
* **Table size.** The same lookups at 1e3, 1e5 and 1e6 pets, one database per size, interleaved
  with each other as well (bulk-loaded with multi-row INSERTs).
* **Cold start.** Fresh interpreters, as a new Lambda container starts one: the handler module
  imported and its first request served, against a process that only imports chalice and pymysql,
  and against the Flask peer.
* **Connections** opened per 1,000 warm requests, and the **size of the API zip**.

Modules: ``dataset`` (scratch database, bulk load, names), ``flask_peer`` (the peer),
``contenders`` (the three warm-path callables), ``warm`` and ``cold`` (the measurements),
``package`` (the zip), ``report`` (table, JSON, plot, docs/performance.md), ``runner`` (the
command line). The API Gateway events and the Lambda context are the tests' own
(``tests.support.events``), so the bench sends exactly what the tests check.
"""
