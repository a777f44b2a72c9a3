"""The dashboard: operations, the community network, consortia and possible connections."""
