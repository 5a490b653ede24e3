"""The SMS channel: residents on any phone, through a Kannel gateway."""
