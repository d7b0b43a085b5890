"""Strategy & Export: who gets which copy through which arm, the approval workflow, and the export files."""
