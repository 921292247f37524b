"""The application on top: the command line, the wiring of settings to components, evaluation."""
