"""What a run shows, drawn: every Altair chart (`charts`, for the pages and the report alike)
and the offline HTML report and JSON evidence file of a run (`writer`)."""
