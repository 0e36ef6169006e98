def fibonacci(n):
    
