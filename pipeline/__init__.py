"""Question -> answers: configuration, command line, and the question-answering pipeline."""
