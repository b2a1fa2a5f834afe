#!/usr/bin/python3
# (being written)
