"""The E2LM submission task's items: the document format, the candidate pool, the selection of rising items,
the organizers' domain check and the upload as a Hub dataset."""
