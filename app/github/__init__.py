"""The GitHub side: one client, the App's tokens, Projects v2, permissions, the manifest table."""
