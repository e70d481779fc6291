"""embedspec-use: the multilingual Universal Sentence Encoder as an embedspec encoder plugin."""
