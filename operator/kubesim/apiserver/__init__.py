"""kubesim's API server: store, admission and validation, the HTTP surface, discovery, OpenAPI,
tables and protobuf decoding."""
