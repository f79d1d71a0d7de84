"""Docker-free local runtime for the SAM template: worker processes that run a function the
way Lambda arranges it (CodeUri then layers on sys.path, the template's environment)."""
