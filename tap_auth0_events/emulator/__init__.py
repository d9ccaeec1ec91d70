"""Local emulator of the Auth0 Events API (SSE) for tests, benchmarks and demos."""
