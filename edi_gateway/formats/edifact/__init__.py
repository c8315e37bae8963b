"""UN/EDIFACT: streaming tokenizer, envelope and structure checks, CONTRL and APERAK."""
