"""Local fakes of the remote systems the server talks to (JIRA; later Salesforce)."""
