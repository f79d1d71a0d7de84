"""What the test tiers share: events and handler calls, an HTTP client with the SigV4 signer,
real Redis servers and the faults put in front of them. Test modules import from here, never
from one another."""
