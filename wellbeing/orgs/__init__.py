"""District, schools, grades and classes."""
