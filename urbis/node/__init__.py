"""Running a node: its home folder, its configuration, and the process that ties
the application, a consensus driver and the API together."""
