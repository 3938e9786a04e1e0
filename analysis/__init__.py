"""Analysis: every run under results/ into tables, statistics, figures and a report."""
