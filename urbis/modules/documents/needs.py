"""What documents uses of other modules: nothing. Every rule it enforces reads its own keys
(a role check, where an action needs one, is done by the app before the handler runs),
so no other module's keeper or view is reached from here."""
