"""The scheduling framework: extension points, the types plugins see, and the runtime."""
