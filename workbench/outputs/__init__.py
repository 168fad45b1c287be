"""What a run leaves behind: charts drawn in a sandbox, the deck and reports, the
findings tables, media clips, REFI-QDA files and shareable bundles.
"""
