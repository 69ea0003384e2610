"""Helpers the tests share: DynamoDB fault injection and reading (dynamodb.py), the portal's fixed values
(portal.py). Fixtures live in tests/conftest.py."""
