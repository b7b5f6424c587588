"""DUT-side actions: what a case asks the device under test to do, and how a profile carries it out."""
