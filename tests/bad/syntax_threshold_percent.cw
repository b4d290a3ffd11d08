# expect: 4:45: unexpected character '%'; expected 'and', 'clock', 'compute', 'delay', 'else', 'network', 'or', 'output', 'stage' or the end of the file; a threshold is a fraction in [0, 1]: write 0.3 for 30%
network fcn8s
stage s1 = conv1_1 .. fc7 head score_pool3, score_pool4, score_fr
compute s1 when pixeldiff(since=fired) >= 30%
output fuse(s1)
