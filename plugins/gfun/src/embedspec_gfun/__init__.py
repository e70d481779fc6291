"""embedspec-gfun: Generalized Funnelling (Moreo, Pedrotti, Sebastiani 2021) as an embedspec encoder."""
