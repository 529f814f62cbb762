"""The command-line shell: parses options, calls the Pipeline, renders what it returns."""
