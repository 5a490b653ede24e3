"""Staff: roles and scopes, invitations, the audit log, staff language and listings."""
