"""Development tools, apart from the runtime: the Bot API emulator and the terminal chat."""
