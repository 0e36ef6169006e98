"""The pipeline of one completion request: the engine (the model worker, scheduling, answering), the prompt
and its token budget, candidates, postprocessing, and the suggestions the user can type into."""
