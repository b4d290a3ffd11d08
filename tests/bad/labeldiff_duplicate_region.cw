# expect: 5:56: labeldiff's 'region' is already given (line 5, column 29); give each keyword at most once
network fcn8s
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
clock moved = labeldiff(s1, region=image, since=fired, region=map) >= 0.25
compute s1 when 1
compute s2 when moved
output fuse(s1, s2)
