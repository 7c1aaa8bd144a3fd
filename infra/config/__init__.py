"""The config layer: the stack files' schema and the app's env files, judged by the settings models."""
