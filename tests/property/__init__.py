"""Property tests (hypothesis); a package so that its conftest has a unique module name."""
