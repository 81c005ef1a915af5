"""Collecting adapters: ILS events and triggers into pending items and mail work items."""
