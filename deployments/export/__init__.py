"""ONNX exports of a project's runs: conversion, the parity check, int8 and pruned variants, the
model card, on the `export` queue."""
