"""Small numeric helpers."""


def fibonacci(n: int) -> int:
    """Return the n-th Fibonacci number (fibonacci(0) == 0)."""
    
