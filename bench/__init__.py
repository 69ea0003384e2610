"""`make bench`: the benchmark of the app's DynamoDB requests, capacity, latency, cold start, package and memory."""
