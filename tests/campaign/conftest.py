"""The API fixtures (store on SQLite and PostgreSQL, an HTTP client, tenants) for the campaign API tests."""
from tests.api import conftest as api

postgres = api.postgres
sqlite_shared_url = api.sqlite_shared_url
postgresql_shared_url = api.postgresql_shared_url
backend = api.backend
shared_url = api.shared_url
store = api.store
deps = api.deps
client = api.client
tenant = api.tenant
other = api.other
