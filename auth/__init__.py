"""Identity and sign-in: users, SMS codes, unified identity (OIDC), JWT sessions, roles."""
