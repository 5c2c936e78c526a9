"""The literature survey (deliverable 4): structured entries of prior work — paper, approach,
reported result, compute needed and feasibility for this team."""
