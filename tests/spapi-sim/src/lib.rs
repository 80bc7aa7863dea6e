//! SP-API simulator (work in progress).
