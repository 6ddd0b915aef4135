#!/usr/bin/env python3
"""Checks that PostgreSQL's availability answer holds the service's figures.

usage: availability_check.py OURS.json POSTGRESQL.json

OURS.json: an answer of GET /api/v1/availability; POSTGRESQL.json: the same
question answered by `pg_driver availability --out`. Compares, per system
and day, the downtime (within 60 s: the two were asked a moment apart, and
ongoing outages grow in between) and the tickets named. Prints one JSON line
(bench/report.py shows it beside the availability row); never fails on a
difference.
"""
import json
import sys

TOLERANCE_SECONDS = 60


def cells(answer):
    found = {}
    for system in answer.get("systems", []):
        for day in system.get("days", []):
            found[(system["system"], day["date"])] = (day["downtime_seconds"], set(day.get("tickets", [])))
    return found


def main():
    ours_path, theirs_path = sys.argv[1:3]
    with open(ours_path) as ours_file, open(theirs_path) as theirs_file:
        ours = cells(json.load(ours_file))
        theirs = cells(json.load(theirs_file))
    agree = 0
    first_difference = ""
    for key in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(key), theirs.get(key)
        if mine and other and abs(mine[0] - other[0]) <= TOLERANCE_SECONDS and mine[1] == other[1]:
            agree += 1
        elif not first_difference:
            first_difference = f"{key[0]} {key[1]}: ours {mine}, postgresql {other}"
    down_ours = sum(value[0] for value in ours.values())
    down_theirs = sum(value[0] for value in theirs.values())
    print(json.dumps({"bench": "availability_check", "label": "ledger vs postgresql", "cells": len(set(ours) | set(theirs)),
                      "agree": agree, "downtime_seconds_ours": down_ours, "downtime_seconds_postgresql": down_theirs,
                      "first_difference": first_difference[:300]}))


if __name__ == "__main__":
    main()
