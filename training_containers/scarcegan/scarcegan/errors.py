"""The one failure the entry points report as `ERROR: <file>: <problem>` with exit code 1."""


class DataError(Exception):
    """Bad input or a bad hyperparameter: the job fails with a line naming the file and problem."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem

    def line(self) -> str:
        return f"ERROR: {self.file}: {self.problem}"
