"""`make bench` (run.py): the benchmark of the app's DynamoDB requests, capacity, latency, cold start, package and
memory; `make costs` (costs.py): each route's DynamoDB requests and capacity on moto and ministack."""
