#!/usr/bin/env python3
"""Writes examples/data/noisy-function.csv, the regression example's data: 2000 rows of
x1, x2 uniform in [-3, 3] and y = sin(x1) * cos(x2) + 0.1 x1 + noise N(0, 0.05^2), from a fixed seed.
Standard library only:  python3 examples/noisy_function.py > examples/data/noisy-function.csv"""
import math
import random

rng = random.Random(7)
print("x1,x2,y")
for _ in range(2000):
    x1, x2 = rng.uniform(-3, 3), rng.uniform(-3, 3)
    y = math.sin(x1) * math.cos(x2) + 0.1 * x1 + rng.gauss(0, 0.05)
    print(f"{x1:.6f},{x2:.6f},{y:.6f}")
