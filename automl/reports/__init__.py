"""Reports a user reads beside the model: data exploration, candidate definitions, model insights and
explainability. They consume what a job has already made (its data, its candidates' held-out predictions) and
never change it; a report that fails or runs out of time is skipped and said, never a job failure."""
