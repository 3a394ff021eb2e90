#!/usr/bin/env python3
"""join_peer.py: the GeoPandas peer of `cohort join`.

Reads the same files as bench_join (polygons: CSV with id,wkt; points: CSV with
id,x,y), runs geopandas.sjoin(points, polygons, predicate="within") and prints one
JSON line: {"peer": "geopandas.sjoin", "points": N, "pairs": P, "seconds": join
time, "seconds_total": read + join}. Point-on-boundary cases differ by definition
(shapely's within excludes the boundary), so pair counts may differ slightly.
"""
import argparse
import json
import time

import geopandas as gpd
import pandas as pd
import shapely


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--polygons", required=True)
    parser.add_argument("--points", required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    poly = pd.read_csv(args.polygons)
    polygons = gpd.GeoDataFrame({"id": poly["id"]}, geometry=shapely.from_wkt(poly["wkt"].values))
    pts = pd.read_csv(args.points)
    points = gpd.GeoDataFrame({"id": pts["id"]}, geometry=gpd.points_from_xy(pts["x"].values, pts["y"].values))
    t1 = time.perf_counter()
    joined = gpd.sjoin(points, polygons, how="inner", predicate="within")
    t2 = time.perf_counter()
    print(json.dumps({"peer": "geopandas.sjoin", "points": len(points), "pairs": len(joined),
                      "seconds": t2 - t1, "seconds_total": t2 - t0}))


if __name__ == "__main__":
    main()
