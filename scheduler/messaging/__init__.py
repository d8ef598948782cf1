"""The command message queue (kombu): its declaration, producers and the message handlers."""
