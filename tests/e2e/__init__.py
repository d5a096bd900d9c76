"""Browser tests of the dashboard (a package so that its conftest module name is unique)."""
