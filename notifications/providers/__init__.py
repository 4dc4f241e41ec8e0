"""Push channels behind one interface (`base.PushProvider`); the inbox is not one of them:
it is always written, before any channel is tried."""
