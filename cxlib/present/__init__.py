"""Floor 5, presentation: formatting, tables, words, figures, the report's sections and the interactive views."""
